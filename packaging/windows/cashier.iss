; 收银台 cashier: Windows installer (Inno Setup 6.3 or later).
;
; Build with packaging\windows\build.ps1, which runs PyInstaller first and then
;   ISCC /DAppVersion=<pyproject version> /DDistDir=<...\dist\cashier> /DOutputDir=<...> cashier.iss
; Compiled by hand without /DAppVersion, the version is read from the built cashier.exe
; (whose version resource the spec fills from pyproject.toml): one place either way.
;
; WHERE THE SHOP'S DATA LIVES: not here. The program folder ({app}) holds only the
; program. The ledger (ledger.sqlite3), profiles.json, settings.json and logs are in
; the Windows user's own folder, %LOCALAPPDATA%\cashier\cashier (platformdirs), or in
; CASHIER_HOME when that is set; merchant keys are in Windows Credential Locker
; (Credential Manager, "cashier"). Uninstalling removes {app} only and never touches
; those: a shop that reinstalls or upgrades keeps every order and refund.
; Do NOT add [UninstallDelete] or [Code] entries for them.

#ifndef DistDir
  #define DistDir AddBackslash(SourcePath) + "..\..\build\packaging\dist\cashier"
#endif
#ifndef OutputDir
  #define OutputDir AddBackslash(SourcePath) + "..\..\build\packaging\installer"
#endif
#ifndef AppVersion
  #define AppVersion GetVersionNumbersString(AddBackslash(DistDir) + "cashier.exe")
#endif
#if AppVersion == ""
  #error Could not read the version: build dist\cashier first, or pass /DAppVersion=...
#endif
; Windows' own version fields take numbers only (0.2.0 for 0.2.0rc1): build.ps1 passes them
#ifndef AppVersionNumbers
  #define AppVersionNumbers AppVersion
#endif

#define AppName "收银台"
#define AppNameAscii "Cashier"
#define AppPublisher "cashier"
#define AppExe "cashier.exe"

; Simplified Chinese: ChineseSimplified.isl ships with Inno Setup only in some versions
; (it long was an unofficial, contributed translation). Use the compiler's copy when
; present, else a copy placed next to this script (packaging\windows\ChineseSimplified.isl,
; from Inno Setup's translations page; not committed here), else build English only.
#if FileExists(AddBackslash(CompilerPath) + "Languages\ChineseSimplified.isl")
  #define ChineseIsl "compiler:Languages\ChineseSimplified.isl"
#elif FileExists(AddBackslash(SourcePath) + "ChineseSimplified.isl")
  #define ChineseIsl AddBackslash(SourcePath) + "ChineseSimplified.isl"
#else
  #pragma message "ChineseSimplified.isl not found: the installer will be English only"
#endif

[Setup]
; AppId identifies the product to Windows for upgrades and uninstall: never change it.
AppId={{A140F668-4C20-4454-A9BB-6ED2119865AD}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher={#AppPublisher}
VersionInfoVersion={#AppVersionNumbers}
VersionInfoProductName={#AppName} {#AppNameAscii}
; Per-user by default (no administrator needed, installs to %LOCALAPPDATA%\Programs);
; the first page offers "install for all users" (Program Files) to an administrator.
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog commandline
DefaultDirName={autopf}\{#AppNameAscii}
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
UsePreviousAppDir=yes
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
; Qt 6 needs Windows 10 1809 or later
MinVersion=10.0.17763
SetupIconFile=..\icons\cashier.ico
UninstallDisplayIcon={app}\{#AppExe}
UninstallDisplayName={#AppName} {#AppNameAscii}
WizardStyle=modern
ShowLanguageDialog=auto
; Close a running cashier (Restart Manager) before replacing its files
CloseApplications=yes
RestartApplications=no
Compression=lzma2/max
SolidCompression=yes
OutputDir={#OutputDir}
OutputBaseFilename=cashier-{#AppVersion}-windows-x64-setup
#ifdef Sign
; build.ps1 defines Sign and passes /Scashiersign=... when CASHIER_SIGNTOOL is set
SignTool=cashiersign
SignedUninstaller=yes
#endif

[Languages]
#ifdef ChineseIsl
Name: "chinesesimplified"; MessagesFile: "{#ChineseIsl}"
#endif
Name: "english"; MessagesFile: "compiler:Default.isl"

[CustomMessages]
#ifdef ChineseIsl
chinesesimplified.LaunchApp=启动收银台
chinesesimplified.CliShortcut=收银台命令行（cashier-cli）
#endif
english.LaunchApp=Start the cashier
english.CliShortcut=Cashier command line (cashier-cli)

[Tasks]
; {cm:CreateDesktopIcon} and {cm:AdditionalIcons} come with every language file
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[Files]
; The whole PyInstaller onedir folder: cashier.exe, cashier-cli.exe, _internal\
Source: "{#DistDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{autoprograms}\{#AppName}"; Filename: "{app}\{#AppExe}"; WorkingDir: "{app}"
; A console in the program folder, for the shop's technician (cashier-cli --help)
Name: "{autoprograms}\{cm:CliShortcut}"; Filename: "{cmd}"; Parameters: "/k ""{app}\cashier-cli.exe"" --help"; WorkingDir: "{app}"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\{#AppExe}"; WorkingDir: "{app}"; Tasks: desktopicon

[Run]
Filename: "{app}\{#AppExe}"; Description: "{cm:LaunchApp}"; Flags: nowait postinstall skipifsilent

; No [UninstallDelete]: the uninstaller removes what it installed, nothing more. The
; ledger, settings, logs (%LOCALAPPDATA%\cashier\cashier) and the merchant keys
; (Credential Locker) stay, so no order record is ever lost by an uninstall.
