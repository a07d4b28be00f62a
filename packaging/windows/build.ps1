<#
.SYNOPSIS
  Build the Windows installer of 收银台 cashier: venv -> PyInstaller onedir -> smoke test -> Inno Setup.

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
      CASHIER_PYTHON     python to make the venv with (default: py -3.11, else python)
      CASHIER_ISCC       path of ISCC.exe (default: PATH, then the usual install folders)
      CASHIER_SIGNTOOL   a signing command without the file name and without quotes, e.g.
                         signtool.exe sign /fd sha256 /tr <RFC 3161 timestamp URL> /td sha256 /sha1 <thumbprint>
                         -> cashier.exe, cashier-cli.exe, the installer and its uninstaller are signed

  The installed program keeps no data in its folder: the ledger, profiles, settings and
  logs are in %LOCALAPPDATA%\cashier\cashier (platformdirs; CASHIER_HOME overrides) and
  merchant keys in Windows Credential Locker. Uninstalling leaves them in place.
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

# --- venv with the app's dependencies (from pyproject.toml) and PyInstaller ----------
# cashier itself is not pip-installed: the spec analyses this checkout's cashier\ package,
# and nothing gets built inside the checkout.
if (-not (Test-Path (Join-Path $Venv 'Scripts\python.exe'))) {
    if ($env:CASHIER_PYTHON) {
        Invoke-Checked $env:CASHIER_PYTHON @('-m', 'venv', $Venv)
    } elseif (Get-Command py -ErrorAction SilentlyContinue) {
        Invoke-Checked 'py' @('-3.11', '-m', 'venv', $Venv)
    } else {
        Invoke-Checked 'python' @('-m', 'venv', $Venv)
    }
}
$Py = Join-Path $Venv 'Scripts\python.exe'
$Requirements = Join-Path $BuildDir 'requirements-app.txt'
Invoke-Checked $Py @('-c', "import tomllib,sys; d=tomllib.load(open(sys.argv[1],'rb'))['project']['dependencies']; open(sys.argv[2],'w').write('\n'.join(d)+'\n')", (Join-Path $Root 'pyproject.toml'), $Requirements)
Invoke-Checked $Py @('-m', 'pip', 'install', '--upgrade', 'pip')
Invoke-Checked $Py @('-m', 'pip', 'install', '-r', $Requirements, '-r', (Join-Path $Root 'packaging\requirements-build.txt'))

# --- version: pyproject.toml is the one place ------------------------------------------
$Version = (& $Py -c "import tomllib,sys; print(tomllib.load(open(sys.argv[1],'rb'))['project']['version'])" (Join-Path $Root 'pyproject.toml')).Trim()
if ($LASTEXITCODE -ne 0 -or -not $Version) { throw 'could not read the version from pyproject.toml' }
$VersionNumbers = ([regex]::Matches($Version, '\d+') | Select-Object -First 4 | ForEach-Object { $_.Value }) -join '.'
Write-Host "cashier $Version ($VersionNumbers)"

# --- PyInstaller onedir -----------------------------------------------------------------
Invoke-Checked $Py @('-m', 'PyInstaller', '--noconfirm', '--clean', '--distpath', $Dist, '--workpath', $Work, (Join-Path $Root 'packaging\cashier.spec'))

# --- sign the executables (before they are packed) --------------------------------------
# CASHIER_SIGNTOOL is split on blanks and must hold no quotes (put signtool.exe on PATH,
# e.g. a Developer PowerShell, and name the certificate by /sha1 thumbprint): the same
# string goes to Inno Setup as its sign tool, and quoting differs between PowerShell versions.
function Invoke-Sign([string]$File) {
    $parts = @($env:CASHIER_SIGNTOOL.Trim() -split '\s+')
    Invoke-Checked $parts[0] (@($parts | Select-Object -Skip 1) + @($File))
}
if ($env:CASHIER_SIGNTOOL) {
    Invoke-Sign (Join-Path $AppDir 'cashier.exe')
    Invoke-Sign (Join-Path $AppDir 'cashier-cli.exe')
}

# --- smoke test: both executables start, in a throwaway CASHIER_HOME --------------------
if (-not $SkipSmoke) {
    $SmokeHome = Join-Path $BuildDir 'smoke-home'
    Remove-Item -Recurse -Force $SmokeHome -ErrorAction SilentlyContinue
    $env:CASHIER_HOME = $SmokeHome
    try {
        Invoke-Checked (Join-Path $AppDir 'cashier-cli.exe') @('--help')
        # cashier.exe is a windowed program: wait for it explicitly to get its exit code
        $watch = [System.Diagnostics.Stopwatch]::StartNew()
        $p = Start-Process -FilePath (Join-Path $AppDir 'cashier.exe') -ArgumentList '--demo', '--exit-when-ready' -Wait -PassThru
        $watch.Stop()
        if ($p.ExitCode -ne 0) { throw "cashier.exe --demo --exit-when-ready exited with $($p.ExitCode)" }
        Write-Host ("cashier.exe demo start-up to ready: {0:N2} s" -f $watch.Elapsed.TotalSeconds)
    } finally {
        Remove-Item Env:\CASHIER_HOME
    }
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

$IsccArgs = @(
    "/DAppVersion=$Version",
    "/DAppVersionNumbers=$VersionNumbers",
    "/DDistDir=$AppDir",
    "/DOutputDir=$(Join-Path $BuildDir 'installer')"
)
if ($env:CASHIER_SIGNTOOL) {
    $IsccArgs += @('/DSign', "/Scashiersign=$($env:CASHIER_SIGNTOOL) `$f")
}
$IsccArgs += (Join-Path $PSScriptRoot 'cashier.iss')
Invoke-Checked $Iscc $IsccArgs
Get-ChildItem (Join-Path $BuildDir 'installer') -Filter "cashier-$Version-*.exe" | ForEach-Object { Write-Host "built $($_.FullName) ($([math]::Round($_.Length / 1MB, 1)) MB)" }
