<#
.SYNOPSIS
  Build the Windows installer of 收银台 cashier: venv from the lock file -> PyInstaller onedir
  -> sign every exe/dll/pyd -> smoke test -> Inno Setup (signed installer and uninstaller) -> SHA-256.

.DESCRIPTION
  Run from any directory on Windows 10/11 x64 with Python 3.11+ (python.org build) and
  Inno Setup 6.3+ installed:

      powershell -ExecutionPolicy Bypass -File packaging\windows\build.ps1

  Output (default <repo>\build\packaging, ignored by git; override with -BuildDir or
  CASHIER_BUILD_DIR):
      venv\                    the build venv (app dependencies + PyInstaller)
      dist\cashier\            cashier.exe (windowed), cashier-cli.exe (console), _internal\
      installer\cashier-<version>-windows-x64-setup.exe

  Environment (optional):
      CASHIER_PYTHON      python (3.11+) to make the venv with (default: the py launcher's
                          newest Python 3, else python on PATH)
      CASHIER_ISCC        path of ISCC.exe (default: PATH, then the usual install folders)
      CASHIER_SIGN_SHA1   thumbprint of the Authenticode certificate (in the certificate store):
                          every .exe, .dll and .pyd of the folder, the installer and its
                          uninstaller are signed, then checked with `signtool verify /pa`
      CASHIER_SIGN_TIMESTAMP_URL   RFC 3161 timestamp server (default http://timestamp.digicert.com)
      CASHIER_SIGNTOOL    path of signtool.exe (default: PATH, then the newest Windows SDK)
      CASHIER_REQUIRE_SIGNED=1     fail without CASHIER_SIGN_SHA1 (the release workflow sets it on tags)

  The installed program keeps no data in its folder. Installed for all users (the
  default), the ledger, profiles and settings are in %ProgramData%\cashier, shared by
  every Windows account of the PC (the installer writes cashier-home.txt next to
  cashier.exe); installed for one user, in %LOCALAPPDATA%\cashier\cashier. Merchant keys
  are in Windows Credential Locker. Uninstalling asks whether to keep the books.
#>
[CmdletBinding()]
param(
    [string]$BuildDir = $env:CASHIER_BUILD_DIR,
    [switch]$SkipSmoke,
    [switch]$SkipInstaller
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

$Root = (Resolve-Path (Join-Path $PSScriptRoot '..\..')).Path
if (-not $BuildDir) { $BuildDir = Join-Path $Root 'build\packaging' }
New-Item -ItemType Directory -Force -Path $BuildDir | Out-Null
$BuildDir = (Resolve-Path $BuildDir).Path
$Venv = Join-Path $BuildDir 'venv'
$Dist = Join-Path $BuildDir 'dist'
$Work = Join-Path $BuildDir 'work'
$AppDir = Join-Path $Dist 'cashier'

function Invoke-Checked {
    param([Parameter(Mandatory)][string]$Exe, [string[]]$ArgumentList = @())
    Write-Host "> $Exe $($ArgumentList -join ' ')"
    & $Exe @ArgumentList
    if ($LASTEXITCODE -ne 0) { throw "$Exe failed with exit code $LASTEXITCODE" }
}

# --- venv: exactly the lock file (hashes checked, nothing resolved) ----------------------
# cashier itself is not pip-installed: the spec analyses this checkout's cashier\ package,
# and nothing gets built inside the checkout.
if (-not (Test-Path (Join-Path $Venv 'Scripts\python.exe'))) {
    if ($env:CASHIER_PYTHON) {
        Invoke-Checked $env:CASHIER_PYTHON @('-m', 'venv', $Venv)
    } elseif (Get-Command py -ErrorAction SilentlyContinue) {
        Invoke-Checked 'py' @('-3', '-m', 'venv', $Venv)
    } else {
        Invoke-Checked 'python' @('-m', 'venv', $Venv)
    }
}
$Py = Join-Path $Venv 'Scripts\python.exe'
Invoke-Checked $Py @('-c', 'import sys; sys.exit(sys.version_info < (3, 11))')
Invoke-Checked $Py @('-m', 'pip', 'install', '--require-hashes', '--no-deps', '-r', (Join-Path $Root 'packaging\requirements.lock'))

# --- version: pyproject.toml is the one place; packaging\versions.py maps it -------------
$Versions = Join-Path $Root 'packaging\versions.py'
$Version = (& $Py $Versions get version | Out-String).Trim()
if ($LASTEXITCODE -ne 0 -or -not $Version) { throw 'could not read the version from pyproject.toml' }
$VersionNumbers = (& $Py $Versions get windows | Out-String).Trim()
if ($LASTEXITCODE -ne 0 -or -not $VersionNumbers) { throw "version $Version has no Windows file version" }
Write-Host "cashier $Version (file version $VersionNumbers)"

# --- signing: every file, with arguments passed as a list (no splitting, no quoting games) -
$SignSha1 = $env:CASHIER_SIGN_SHA1
if (-not $SignSha1 -and $env:CASHIER_REQUIRE_SIGNED -eq '1') {
    throw 'CASHIER_REQUIRE_SIGNED=1 but CASHIER_SIGN_SHA1 is not set: refusing to build an unsigned release'
}
$TimestampUrl = if ($env:CASHIER_SIGN_TIMESTAMP_URL) { $env:CASHIER_SIGN_TIMESTAMP_URL } else { 'http://timestamp.digicert.com' }
$SignTool = $null
if ($SignSha1) {
    $SignTool = $env:CASHIER_SIGNTOOL
    if (-not $SignTool) {
        $cmd = Get-Command signtool.exe -ErrorAction SilentlyContinue
        if ($cmd) { $SignTool = $cmd.Source }
    }
    if (-not $SignTool) {
        $SignTool = Get-ChildItem -Path (Join-Path ${env:ProgramFiles(x86)} 'Windows Kits\10\bin') -Recurse -Filter signtool.exe -ErrorAction SilentlyContinue |
            Where-Object { $_.FullName -match '\\x64\\' } | Sort-Object FullName | Select-Object -Last 1 -ExpandProperty FullName
    }
    if (-not $SignTool) { throw 'signtool.exe not found: install the Windows SDK or set CASHIER_SIGNTOOL' }
}
function Invoke-SignAndVerify([string[]]$Files) {
    # batches keep the command line short; signtool takes many files per call
    for ($i = 0; $i -lt $Files.Count; $i += 50) {
        $batch = @($Files[$i..([math]::Min($i + 49, $Files.Count - 1))])
        Invoke-Checked $SignTool (@('sign', '/fd', 'sha256', '/tr', $TimestampUrl, '/td', 'sha256', '/sha1', $SignSha1) + $batch)
        Invoke-Checked $SignTool (@('verify', '/pa', '/all') + $batch)
    }
}

# --- PyInstaller onedir -----------------------------------------------------------------
Invoke-Checked $Py @('-m', 'PyInstaller', '--noconfirm', '--clean', '--distpath', $Dist, '--workpath', $Work, (Join-Path $Root 'packaging\cashier.spec'))

# --- sign every executable file of the folder (before it is packed) ---------------------
if ($SignSha1) {
    $ToSign = @(Get-ChildItem -Path $AppDir -Recurse -File -Include *.exe, *.dll, *.pyd | ForEach-Object { $_.FullName })
    Write-Host "signing $($ToSign.Count) files"
    Invoke-SignAndVerify $ToSign
} else {
    Write-Warning 'CASHIER_SIGN_SHA1 not set: nothing is signed (SmartScreen will warn; releases must be signed)'
}

# --- smoke test: the window starts in demo mode, the frozen CLI pays against the simulator --
if (-not $SkipSmoke) {
    Invoke-Checked $Py @((Join-Path $Root 'packaging\smoke.py'), $AppDir)
}

# --- Inno Setup -------------------------------------------------------------------------
if ($SkipInstaller) { return }
$Iscc = $env:CASHIER_ISCC
if (-not $Iscc) {
    $cmd = Get-Command ISCC.exe -ErrorAction SilentlyContinue
    if ($cmd) { $Iscc = $cmd.Source }
}
if (-not $Iscc) {
    $candidates = @(
        (Join-Path ${env:ProgramFiles(x86)} 'Inno Setup 6\ISCC.exe'),
        (Join-Path $env:ProgramFiles 'Inno Setup 6\ISCC.exe'),
        (Join-Path $env:LOCALAPPDATA 'Programs\Inno Setup 6\ISCC.exe')
    )
    $Iscc = $candidates | Where-Object { $_ -and (Test-Path $_) } | Select-Object -First 1
}
if (-not $Iscc) { throw 'ISCC.exe (Inno Setup 6.3+) not found: install it or set CASHIER_ISCC' }

$Installer = Join-Path $BuildDir 'installer'
$IsccArgs = @(
    "/DAppVersion=$Version",
    "/DAppVersionNumbers=$VersionNumbers",
    "/DDistDir=$AppDir",
    "/DOutputDir=$Installer"
)
if ($SignSha1) {
    # Inno Setup runs this for the installer and the uninstaller: $q is a quote, $f the
    # quoted file name. Every part is a single token, so nothing depends on splitting.
    $IsccArgs += @('/DSign', "/Scashiersign=`$q$SignTool`$q sign /fd sha256 /tr `$q$TimestampUrl`$q /td sha256 /sha1 $SignSha1 `$f")
}
$IsccArgs += (Join-Path $PSScriptRoot 'cashier.iss')
Invoke-Checked $Iscc $IsccArgs
$Setup = Join-Path $Installer "cashier-$Version-windows-x64-setup.exe"
if (-not (Test-Path $Setup)) { throw "Inno Setup did not write $Setup" }
if ($SignSha1) { Invoke-Checked $SignTool @('verify', '/pa', '/all', $Setup) }
$Hash = (Get-FileHash -Algorithm SHA256 $Setup).Hash.ToLowerInvariant()
# the format of sha256sum: "<hash>  <name>"
[IO.File]::WriteAllText("$Setup.sha256", "$Hash  $(Split-Path $Setup -Leaf)`n")
Write-Host "built $Setup ($([math]::Round((Get-Item $Setup).Length / 1MB, 1)) MB), sha256 $Hash"
