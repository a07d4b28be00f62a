; 收银台 cashier: Windows installer (Inno Setup 6.3 or later).
;
; Build with packaging\windows\build.ps1, which runs PyInstaller first and then
;   ISCC /DAppVersion=<pyproject version> /DDistDir=<...\dist\cashier> /DOutputDir=<...> cashier.iss
; Compiled by hand without /DAppVersion, the version is read from the built cashier.exe
; (whose version resource the spec fills from pyproject.toml): one place either way.
;
; WHERE THE SHOP'S DATA LIVES: not in the program folder ({app}).
;  * Installed for all users (the default): %ProgramData%\cashier, shared by every Windows
;    account of the PC (one set of books), writable by all users. The installer writes
;    {app}\cashier-home.txt naming it; the app reads that file (cashier/paths.py).
;  * Installed for the current user only: %LOCALAPPDATA%\cashier\cashier (platformdirs).
;  * CASHIER_HOME, when set, wins over both.
; Merchant keys are in Windows Credential Locker (Credential Manager, "cashier"), per
; Windows account: each clerk account enters the key once.
; Upgrading never touches the books. Uninstalling asks whether to keep them (default:
; keep) and says where they are; silent uninstalls keep them.
;
; A payment in flight: before files are replaced (install, upgrade) or removed
; (uninstall), the installed cashier-cli.exe is asked (`request-quit`); it exits 3 when an
; order or refund is waiting for the gateway or the customer, and setup stops with a
; message instead of closing the cashier. Only then does Restart Manager close an idle
; cashier (CloseApplications).

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
; Windows' own version fields take four numbers: build.ps1 passes packaging\versions.py's
; mapping (0.2.0rc1 -> 0.2.0.30199, below 0.2.0 -> 0.2.0.40000)
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
; For all users by default (Program Files, books in ProgramData); the first page offers
; "install for me only" (%LOCALAPPDATA%\Programs, no administrator needed).
; Command line: /ALLUSERS or /CURRENTUSER.
PrivilegesRequired=admin
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
; Close a running cashier (Restart Manager) before replacing its files, but only after
; PrepareToInstall below has made sure no payment is in flight
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
chinesesimplified.PaymentInFlight=收银台里有付款或退款正在进行。请等它完成（已付、已撤销或已退款）后再运行安装程序。%n%n%1
chinesesimplified.KeepBooks=保留店铺的账本（订单、退款、设置）吗？%n%n位置：%n%1%n%n选“是”保留，以后重新安装可继续使用；选“否”删除。%n%n商户密钥无论如何都保留在 Windows 凭据管理器（“cashier”）中。
chinesesimplified.ReallyDelete=永久删除%n%1%n中的全部订单和退款记录？此操作无法撤销。
#endif
english.LaunchApp=Start the cashier
english.CliShortcut=Cashier command line (cashier-cli)
english.PaymentInFlight=A payment or refund is in progress in the cashier. Let it finish (paid, cancelled or refunded), then run setup again.%n%n%1
english.KeepBooks=Keep the shop's books (orders, refunds, settings)?%n%nThey are in:%n%1%n%nYes keeps them for a later reinstall. No deletes them.%n%nMerchant keys stay in Windows Credential Locker (Credential Manager, "cashier") either way.
english.ReallyDelete=Delete every order and refund record in%n%1%npermanently? This cannot be undone.

[Tasks]
; {cm:CreateDesktopIcon} and {cm:AdditionalIcons} come with every language file
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[Dirs]
; The shared books of an all-users install: every local user may read and write them
; (the ledger is one SQLite file several clerk accounts open). Never removed by the
; uninstaller itself: [Code] asks first.
Name: "{commonappdata}\cashier"; Permissions: users-modify; Flags: uninsneveruninstall; Check: IsAdminInstallMode

[Files]
; The whole PyInstaller onedir folder: cashier.exe, cashier-cli.exe, _internal\
Source: "{#DistDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[UninstallDelete]
; written by [Code] at install time, so the uninstaller does not know it otherwise
Type: files; Name: "{app}\cashier-home.txt"

[Icons]
Name: "{autoprograms}\{#AppName}"; Filename: "{app}\{#AppExe}"; WorkingDir: "{app}"
; A console in the program folder, for the shop's technician (cashier-cli --help)
Name: "{autoprograms}\{cm:CliShortcut}"; Filename: "{cmd}"; Parameters: "/k ""{app}\cashier-cli.exe"" --help"; WorkingDir: "{app}"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\{#AppExe}"; WorkingDir: "{app}"; Tasks: desktopicon

[Run]
Filename: "{app}\{#AppExe}"; Description: "{cm:LaunchApp}"; Flags: nowait postinstall skipifsilent

[Code]
var
  BooksFolder: String;

{ cashier-cli.exe request-quit exits 3 when a payment or refund is in flight in the books
  this installation uses (it reads cashier-home.txt like the app). Older versions
  without the command exit 2: treated as "not busy", as is a missing program. }
function PaymentInFlight(const Exe: String; var Details: String): Boolean;
var
  ResultCode: Integer;
  OutFile: String;
  Lines: TArrayOfString;
  I: Integer;
begin
  Result := False;
  Details := '';
  if not FileExists(Exe) then
    exit;
  OutFile := ExpandConstant('{tmp}\request-quit.txt');
  if Exec(ExpandConstant('{cmd}'), '/C ""' + Exe + '" request-quit > "' + OutFile + '" 2>&1"', '',
          SW_HIDE, ewWaitUntilTerminated, ResultCode) then
  begin
    Result := ResultCode = 3;
    if Result and LoadStringsFromFile(OutFile, Lines) then
      for I := 0 to GetArrayLength(Lines) - 1 do
        Details := Details + Lines[I] + #13#10;
  end;
end;

function PrepareToInstall(var NeedsRestart: Boolean): String;
var
  Details: String;
begin
  Result := '';
  if PaymentInFlight(ExpandConstant('{app}\cashier-cli.exe'), Details) then
    Result := FmtMessage(CustomMessage('PaymentInFlight'), [Details]);
end;

procedure CurStepChanged(CurStep: TSetupStep);
begin
  { an all-users install shares one set of books in ProgramData }
  if (CurStep = ssPostInstall) and IsAdminInstallMode then
    SaveStringToFile(ExpandConstant('{app}\cashier-home.txt'), ExpandConstant('{commonappdata}\cashier'), False);
end;

function InitializeUninstall(): Boolean;
var
  Details: String;
  Home: AnsiString;
begin
  Result := True;
  if PaymentInFlight(ExpandConstant('{app}\cashier-cli.exe'), Details) then
  begin
    MsgBox(FmtMessage(CustomMessage('PaymentInFlight'), [Details]), mbError, MB_OK);
    Result := False;
    exit;
  end;
  if LoadStringFromFile(ExpandConstant('{app}\cashier-home.txt'), Home) then
    BooksFolder := Trim(String(Home))
  else
    BooksFolder := ExpandConstant('{localappdata}\cashier\cashier');
end;

procedure CurUninstallStepChanged(CurUninstallStep: TUninstallStep);
begin
  { Keeping is the default, and the only answer of a silent uninstall. }
  if (CurUninstallStep = usPostUninstall) and not UninstallSilent and DirExists(BooksFolder) then
    if MsgBox(FmtMessage(CustomMessage('KeepBooks'), [BooksFolder]), mbConfirmation, MB_YESNO or MB_DEFBUTTON1) = IDNO then
      if MsgBox(FmtMessage(CustomMessage('ReallyDelete'), [BooksFolder]), mbConfirmation, MB_YESNO or MB_DEFBUTTON2) = IDYES then
        DelTree(BooksFolder, True, True, True);
end;
