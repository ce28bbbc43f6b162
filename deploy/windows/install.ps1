<#
.SYNOPSIS
    Install, upgrade or remove the Routing ML console as two Windows services (WinSW).

.DESCRIPTION
    Run from an unpacked release (this file is deploy\windows\install.ps1 inside it), as an
    administrator, on a machine without internet access. Installing over an existing install is
    the upgrade: the services are stopped, the code is replaced, the virtualenv is updated from
    the new wheelhouse, the database is migrated and the services are started again.

    Steps: stop existing services -> copy the release to -InstallDir -> .venv with Python 3.11
    (py -3.11) -> pip install --no-index from the wheelhouse -> migrate -> collectstatic ->
    create_admin (prints the login, kept in var\admin-login.txt) -> preflight (the install fails
    with its hints) -> install and start routing-web and routing-cluster -> smoke test against the
    started web service (retried for up to 60 s).

    Site settings (ROUTING_SOURCE, DATABASE_URL, REDIS_URL, ...) come from <InstallDir>\routing.env,
    one KEY=VALUE per line (the format of deploy\linux\routing.env.example). They are written into
    both service definitions as env entries and used by this script's own manage.py calls.

    Exit codes: 0 done; 1 usage or environment (not elevated, bad folder, WinSW missing);
    2 Python 3.11 not found; 3 virtualenv or wheel install failed; 4 migrate, collectstatic or
    create_admin failed; 5 preflight failed; 6 a service did not install or start; 7 smoke test
    failed; 8 uninstall failed; 10 cancelled at the prompt.

.PARAMETER InstallDir
    Install folder (default C:\RoutingML). Holds the code, .venv, service\, logs\, models\, var\.
.PARAMETER Port
    Web service port. Default: ROUTING_PORT from routing.env, else 8000.
.PARAMETER Silent
    No prompts; the result is the exit code and the install log.
.PARAMETER Uninstall
    Stop and remove both services and the installed code.
.PARAMETER KeepLogs
    On uninstall, keep logs\, models\, var\ and routing.env (default). -KeepLogs:$false removes
    the whole install folder, trained models and the registry database included.
.PARAMETER Wheelhouse
    Folder of wheels made by build-wheelhouse.ps1 (default: <release>\wheelhouse). WinSW-x64.exe
    is looked for there too.
.PARAMETER WinSW
    Path of WinSW-x64.exe (2.x), when it is not in the wheelhouse or beside this script.
.PARAMETER AdminUser
    Name of the admin account create_admin makes or confirms (default admin).
.PARAMETER ExtraPackages
    Extra packages to install from the wheelhouse, comma-separated (e.g. psycopg,redis for
    PostgreSQL and the Redis broker).

.EXAMPLE
    powershell -ExecutionPolicy Bypass -File deploy\windows\install.ps1 -InstallDir D:\RoutingML -Silent
.EXAMPLE
    powershell -ExecutionPolicy Bypass -File deploy\windows\install.ps1 -InstallDir D:\RoutingML -Uninstall -Silent
#>
[CmdletBinding()]
param(
    [string]$InstallDir = "C:\RoutingML",
    [int]$Port = 0,
    [switch]$Silent,
    [switch]$Uninstall,
    [switch]$KeepLogs = $true,
    [string]$Wheelhouse = "",
    [string]$WinSW = "",
    [string]$AdminUser = "admin",
    [string[]]$ExtraPackages = @()
)

$ErrorActionPreference = "Stop"
$ReleaseDir = (Resolve-Path (Join-Path $PSScriptRoot "..\..")).Path
$Services = @("routing-web", "routing-cluster")
$KeptOnUninstall = @("logs", "models", "var", "routing.env")
$FirewallGroup = "Routing ML console"
$script:LogFile = $null
$script:VenvPython = $null
try { [Console]::OutputEncoding = [System.Text.Encoding]::UTF8 } catch { }  # no console (e.g. ISE)
$env:PYTHONUTF8 = "1"

# --- output -------------------------------------------------------------------------------------

function Write-Log([string]$Message, [string]$Level = "INFO") {
    $line = "{0} {1,-5} {2}" -f (Get-Date -Format "yyyy-MM-dd HH:mm:ss"), $Level, $Message
    if ($script:LogFile) { Add-Content -LiteralPath $script:LogFile -Value $line -Encoding UTF8 }
    $color = switch ($Level) { "ERROR" { "Red" } "WARN" { "Yellow" } "OK" { "Green" } default { "Gray" } }
    Write-Host $Message -ForegroundColor $color
}

function Stop-Install([int]$Code, [string]$Message) {
    Write-Log $Message "ERROR"
    if ($script:LogFile) { Write-Host "Install log: $script:LogFile" }
    exit $Code
}

function Start-InstallLog([string]$Folder, [string]$Kind) {
    New-Item -ItemType Directory -Force -Path $Folder | Out-Null
    $script:LogFile = Join-Path $Folder ("{0}-{1}.log" -f $Kind, (Get-Date -Format "yyyyMMdd-HHmmss"))
    Write-Log "$Kind of the Routing ML console from $ReleaseDir into $InstallDir (log: $script:LogFile)"
}

# Runs a program, logs its output, returns @{Code; Lines}. Windows PowerShell turns a native
# program's stderr lines into error records (fatal under "Stop"), so they are collected as text.
function Invoke-Native([string]$Exe, [string[]]$Arguments, [switch]$Quiet, [switch]$NoLog) {
    Write-Log ("> {0} {1}" -f (Split-Path -Leaf $Exe), ($Arguments -join " "))
    $previous = $ErrorActionPreference
    $ErrorActionPreference = "Continue"
    try {
        $lines = @(& $Exe @Arguments 2>&1 | ForEach-Object { "$_" })
        $code = $LASTEXITCODE
    } finally {
        $ErrorActionPreference = $previous
    }
    foreach ($line in $lines) {
        if ($script:LogFile -and -not $NoLog) { Add-Content -LiteralPath $script:LogFile -Value "    $line" -Encoding UTF8 }
        if (-not $Quiet) { Write-Host "    $line" }
    }
    return @{ Code = $code; Lines = $lines }
}

function Invoke-Manage([string[]]$Arguments, [switch]$Quiet, [switch]$NoLog) {
    return Invoke-Native -Exe $script:VenvPython -Arguments (@("manage.py") + $Arguments) -Quiet:$Quiet -NoLog:$NoLog
}

function Confirm-Step([string]$Question, [bool]$DefaultYes) {
    if ($Silent) { return $true }
    $hint = if ($DefaultYes) { "[Y/n]" } else { "[y/N]" }
    $answer = Read-Host "$Question $hint"
    if ([string]::IsNullOrWhiteSpace($answer)) { return $DefaultYes }
    return $answer.Trim().ToLower().StartsWith("y")
}

# --- checks and settings ------------------------------------------------------------------------

function Assert-Administrator {
    $identity = [Security.Principal.WindowsIdentity]::GetCurrent()
    $principal = New-Object Security.Principal.WindowsPrincipal($identity)
    if (-not $principal.IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)) {
        Write-Host "Run this script from an elevated PowerShell (Run as administrator): it installs services." -ForegroundColor Red
        exit 1
    }
}

function Assert-InstallDir {
    $full = [System.IO.Path]::GetFullPath($InstallDir)
    if ($full.TrimEnd("\") -match "^[A-Za-z]:$") { Write-Host "-InstallDir must not be a drive root." -ForegroundColor Red; exit 1 }
    $existing = @(Get-ChildItem -LiteralPath $full -Force -ErrorAction SilentlyContinue)
    if ($existing.Count -gt 0 -and -not (Test-Path (Join-Path $full "manage.py"))) {
        Write-Host "$full exists, is not empty and holds no Routing ML install: choose another -InstallDir." -ForegroundColor Red
        exit 1
    }
    return $full
}

# KEY=VALUE lines, '#' comments, optional quotes: the systemd EnvironmentFile format.
function Read-SiteEnv([string]$Path) {
    $values = [ordered]@{}
    if (-not (Test-Path -LiteralPath $Path)) { return $values }
    foreach ($raw in Get-Content -LiteralPath $Path -Encoding UTF8) {
        $line = $raw.Trim()
        if ($line -eq "" -or $line.StartsWith("#") -or -not $line.Contains("=")) { continue }
        $key, $value = $line -split "=", 2
        $value = $value.Trim()
        if ($value.Length -ge 2 -and ($value[0] -eq '"' -or $value[0] -eq "'") -and $value[-1] -eq $value[0]) {
            $value = $value.Substring(1, $value.Length - 2)
        }
        $values[$key.Trim()] = $value
    }
    return $values
}

function Find-Python311 {
    $probe = "import sys, struct; assert sys.version_info[:2] == (3, 11); print(sys.executable); print(struct.calcsize('P') * 8)"
    $launchers = @()
    if (Get-Command py.exe -ErrorAction SilentlyContinue) { $launchers += , @("py.exe", @("-3.11", "-c", $probe)) }
    foreach ($name in @("python3.11.exe", "python.exe")) {
        $cmd = Get-Command $name -ErrorAction SilentlyContinue
        if ($cmd) { $launchers += , @($cmd.Source, @("-c", $probe)) }
    }
    foreach ($launcher in $launchers) {
        $r = Invoke-Native -Exe $launcher[0] -Arguments $launcher[1] -Quiet
        if ($r.Code -eq 0 -and $r.Lines.Count -ge 2) { return @{ Path = $r.Lines[0].Trim(); Bits = $r.Lines[1].Trim() } }
    }
    return $null
}

function Find-WinSW {
    $candidates = @($WinSW, (Join-Path $Wheelhouse "WinSW-x64.exe"), (Join-Path $PSScriptRoot "WinSW-x64.exe"),
        (Join-Path $InstallDir "service\routing-web.exe")) | Where-Object { $_ }
    foreach ($candidate in $candidates) {
        if (Test-Path -LiteralPath $candidate) { return (Resolve-Path -LiteralPath $candidate).Path }
    }
    return $null
}

# --- services -----------------------------------------------------------------------------------

function Remove-Services {
    foreach ($name in $Services) {
        $service = Get-Service -Name $name -ErrorAction SilentlyContinue
        if (-not $service) { continue }
        if ($service.Status -ne "Stopped") {
            Write-Log "Stopping $name (the task cluster may take up to 2 minutes when a training runs)"
            try {
                Stop-Service -Name $name -Force -ErrorAction SilentlyContinue
                (Get-Service -Name $name).WaitForStatus("Stopped", [TimeSpan]::FromSeconds(180))
            } catch {
                Write-Log "$name did not stop within 3 minutes: $($_.Exception.Message)" "ERROR"
                return $false
            }
        }
        $exe = Join-Path $InstallDir "service\$name.exe"
        if (Test-Path -LiteralPath $exe) { $r = Invoke-Native -Exe $exe -Arguments @("uninstall") }
        else { $r = Invoke-Native -Exe "sc.exe" -Arguments @("delete", $name) }
        if ($r.Code -ne 0) { return $false }
    }
    # The service manager deletes a service once no handle is open (close services.msc).
    foreach ($i in 1..30) {
        if (-not (Get-Service -Name $Services -ErrorAction SilentlyContinue)) { return $true }
        Start-Sleep -Seconds 1
    }
    Write-Log "A service is still marked for deletion: close the Services console and run the script again." "ERROR"
    return $false
}

function Write-ServiceXml([string]$Name, [string]$Target, $SiteEnv) {
    # %BASE%\.. (the service folder's parent) becomes the install folder itself: plainer paths in logs.
    $template = Get-Content -LiteralPath (Join-Path $PSScriptRoot "$Name.xml") -Raw -Encoding UTF8
    [xml]$doc = $template.Replace("%BASE%\..", [System.Security.SecurityElement]::Escape($InstallDir))
    $service = $doc.DocumentElement
    if ($Name -eq "routing-web") {
        $service.SelectSingleNode("arguments").InnerText = "manage.py serve --host 0.0.0.0 --port $Port"
    }
    foreach ($node in @($service.SelectNodes("env"))) {
        if ($SiteEnv.Contains($node.GetAttribute("name"))) { [void]$service.RemoveChild($node) }
    }
    $marker = $service.SelectSingleNode("comment()[contains(., 'routing.env')]")
    foreach ($key in $SiteEnv.Keys) {
        if ($Name -ne "routing-web" -and $key -eq "ROUTING_PORT") { continue }
        $node = $doc.CreateElement("env")
        $node.SetAttribute("name", $key)
        $node.SetAttribute("value", $SiteEnv[$key])
        if ($marker) { [void]$service.InsertBefore($node, $marker) } else { [void]$service.AppendChild($node) }
    }
    $doc.Save($Target)
}

function Install-Services([string]$WinSWExe, $SiteEnv) {
    $serviceDir = Join-Path $InstallDir "service"
    New-Item -ItemType Directory -Force -Path $serviceDir | Out-Null
    foreach ($name in $Services) {
        Copy-Item -LiteralPath $WinSWExe -Destination (Join-Path $serviceDir "$name.exe") -Force
        Write-ServiceXml -Name $name -Target (Join-Path $serviceDir "$name.xml") -SiteEnv $SiteEnv
        $r = Invoke-Native -Exe (Join-Path $serviceDir "$name.exe") -Arguments @("install")
        if ($r.Code -ne 0) { Stop-Install 6 "Installing the $name service failed (see above)." }
    }
    foreach ($name in $Services) {
        try {
            Start-Service -Name $name
            (Get-Service -Name $name).WaitForStatus("Running", [TimeSpan]::FromSeconds(30))
        } catch {
            Stop-Install 6 "The $name service did not start: $($_.Exception.Message). See $InstallDir\logs\$name.err.log."
        }
        Write-Log "Service $name running." "OK"
    }
}

function Set-FirewallRule {
    try {
        Remove-NetFirewallRule -Group $FirewallGroup -ErrorAction SilentlyContinue
        New-NetFirewallRule -DisplayName "$FirewallGroup (TCP $Port)" -Group $FirewallGroup -Direction Inbound `
            -Protocol TCP -LocalPort $Port -Action Allow | Out-Null
        Write-Log "Firewall: inbound TCP $Port allowed."
    } catch {
        Write-Log "Could not add the firewall rule ($($_.Exception.Message)); open TCP $Port by hand if clients are remote." "WARN"
    }
}

# --- install steps ------------------------------------------------------------------------------

function Copy-Release {
    if ($ReleaseDir.TrimEnd("\") -ieq $InstallDir.TrimEnd("\")) { Write-Log "Installing in place."; return }
    # /MIR drops files removed from the release (old migrations, modules); the excluded folders
    # and files are neither copied nor deleted.
    $arguments = @($ReleaseDir, $InstallDir, "/MIR", "/NFL", "/NDL", "/NJH", "/NJS", "/NP", "/R:2", "/W:2",
        "/XD", ".git", ".venv", "logs", "models", "var", "service", "wheelhouse", "__pycache__", ".pytest_cache",
        "/XF", "routing.env", "*.pyc")
    $r = Invoke-Native -Exe "robocopy.exe" -Arguments $arguments -Quiet
    if ($r.Code -ge 8) { Stop-Install 1 "Copying the release to $InstallDir failed (robocopy exit code $($r.Code))." }
}

function Install-Packages {
    $python = Find-Python311
    if (-not $python) {
        Stop-Install 2 "Python 3.11 not found (py -3.11). Install Python 3.11 64-bit for all users, then run again."
    }
    Write-Log "Python 3.11: $($python.Path) ($($python.Bits)-bit; the Access ODBC driver must have the same bitness)."
    $venv = Join-Path $InstallDir ".venv"
    $script:VenvPython = Join-Path $venv "Scripts\python.exe"
    if (-not (Test-Path -LiteralPath $script:VenvPython)) {
        $r = Invoke-Native -Exe $python.Path -Arguments @("-m", "venv", $venv)
        if ($r.Code -ne 0) { Stop-Install 3 "Creating the virtualenv $venv failed." }
    }
    $arguments = @("-m", "pip", "install", "--no-index", "--find-links", $Wheelhouse, "--disable-pip-version-check",
        "-r", (Join-Path $InstallDir "requirements\base.txt"))
    $extra = @($ExtraPackages | ForEach-Object { $_ -split "," } | Where-Object { $_.Trim() } | ForEach-Object { $_.Trim() })
    $r = Invoke-Native -Exe $script:VenvPython -Arguments ($arguments + $extra) -Quiet
    if ($r.Code -ne 0) {
        $r.Lines | Select-Object -Last 15 | ForEach-Object { Write-Host "    $_" }
        Stop-Install 3 "pip could not install from $Wheelhouse: a wheel is missing or built for another Python. Rebuild the wheelhouse with build-wheelhouse.ps1."
    }
    Write-Log "Packages installed from $Wheelhouse." "OK"
}

function Initialize-Database {
    foreach ($step in @(@("migrate", "--noinput"), @("collectstatic", "--noinput", "-v0"))) {
        $r = Invoke-Manage $step
        if ($r.Code -ne 0) { Stop-Install 4 "manage.py $($step[0]) failed (see above)." }
    }
    # The password is printed once: shown here and kept in var\admin-login.txt, not in the log.
    $r = Invoke-Manage @("create_admin", $AdminUser) -NoLog
    if ($r.Code -ne 0) { Stop-Install 4 "manage.py create_admin failed (see above)." }
    $r.Lines | Where-Object { $_ -notmatch "Password" } | ForEach-Object { Add-Content -LiteralPath $script:LogFile -Value "    $_" -Encoding UTF8 }
    if ($r.Lines -match "Password") {
        $r.Lines | Set-Content -LiteralPath (Join-Path $InstallDir "var\admin-login.txt") -Encoding UTF8
    }
    # var\ holds the signing keys, the admin password and the SQLite registry: Administrators and SYSTEM only.
    [void](Invoke-Native -Exe "icacls.exe" -Arguments @((Join-Path $InstallDir "var"), "/inheritance:r", "/grant:r",
        "*S-1-5-32-544:(OI)(CI)F", "*S-1-5-18:(OI)(CI)F") -Quiet)
}

function Invoke-Preflight {
    $r = Invoke-Manage @("preflight", "--port", "$Port")
    if ($r.Code -ne 0) {
        Stop-Install 5 ("Preflight failed; fix the FAIL lines above (site settings go in $InstallDir\routing.env) " +
            "and run the installer again.")
    }
}

function Invoke-Smoke {
    $url = "http://127.0.0.1:$Port"
    $deadline = (Get-Date).AddSeconds(60)
    while ($true) {
        $r = Invoke-Manage @("smoke", "--url", $url, "--timeout", "5") -Quiet
        $text = $r.Lines -join " "
        if ($r.Code -eq 0) { Write-Log $text "OK"; return }
        if ($text -match "no active version") {
            Write-Log ("The web service answers, but no model version is active yet: train one (manage.py train), " +
                "approve and activate it in the admin, then run manage.py smoke --url $url.") "WARN"
            return
        }
        if ((Get-Date) -ge $deadline) { Stop-Install 7 "Smoke test failed after 60 s: $text" }
        Start-Sleep -Seconds 3
    }
}

function Install-Product {
    if (-not $Wheelhouse) { $script:Wheelhouse = Join-Path $ReleaseDir "wheelhouse" }
    if (-not (Get-ChildItem -Path $Wheelhouse -Filter "hnswlib-*.whl" -ErrorAction SilentlyContinue)) {
        Write-Host "No hnswlib wheel in $Wheelhouse: build the wheelhouse with deploy\windows\build-wheelhouse.ps1." -ForegroundColor Red
        exit 3
    }
    $winswExe = Find-WinSW
    if (-not $winswExe) {
        Write-Host "WinSW-x64.exe (2.x) not found: put it in the wheelhouse or pass -WinSW <path>." -ForegroundColor Red
        exit 1
    }
    $siteEnv = Read-SiteEnv (Join-Path $InstallDir "routing.env")
    if ($Port -eq 0) { $script:Port = if ($siteEnv.Contains("ROUTING_PORT")) { [int]$siteEnv["ROUTING_PORT"] } else { 8000 } }
    $siteEnv["ROUTING_PORT"] = "$Port"
    if (-not (Confirm-Step "Install the Routing ML console into $InstallDir (web port $Port)?" $true)) { exit 10 }

    Start-InstallLog (Join-Path $InstallDir "logs") "install"
    Write-Log "Wheelhouse: $Wheelhouse; WinSW: $winswExe; site settings: $(@($siteEnv.Keys) -join ', ')"
    if (-not (Remove-Services)) { Stop-Install 6 "The existing services could not be removed." }
    Copy-Release
    foreach ($folder in @("logs", "models", "var")) { New-Item -ItemType Directory -Force -Path (Join-Path $InstallDir $folder) | Out-Null }
    Set-Location -LiteralPath $InstallDir
    foreach ($key in $siteEnv.Keys) { Set-Item -Path "Env:$key" -Value $siteEnv[$key] }

    Install-Packages
    Initialize-Database
    Invoke-Preflight
    Install-Services -WinSWExe $winswExe -SiteEnv $siteEnv
    Set-FirewallRule
    Invoke-Smoke

    Write-Log "Installed. Console: http://<this machine>:$Port/  Admin: /admin/  API docs: /api/v1/docs/" "OK"
    $login = Join-Path $InstallDir "var\admin-login.txt"
    if (Test-Path -LiteralPath $login) { Write-Host "Admin login (also in $login):"; Get-Content -LiteralPath $login | ForEach-Object { Write-Host "    $_" } }
    Write-Host "Install log: $script:LogFile"
    exit 0
}

function Uninstall-Product {
    $what = if ($KeepLogs) { "keeping $($KeptOnUninstall -join ', ')" } else { "deleting everything, models and registry database included" }
    if (-not (Confirm-Step "Remove the Routing ML services and $InstallDir ($what)?" $false)) { exit 10 }
    $logFolder = if ($KeepLogs) { Join-Path $InstallDir "logs" } else { $env:TEMP }
    Start-InstallLog $logFolder "uninstall"
    if (-not (Remove-Services)) { Stop-Install 8 "The services could not be removed." }
    Remove-NetFirewallRule -Group $FirewallGroup -ErrorAction SilentlyContinue
    Set-Location -LiteralPath $env:TEMP
    try {
        if ($KeepLogs) {
            Get-ChildItem -LiteralPath $InstallDir -Force | Where-Object { $KeptOnUninstall -notcontains $_.Name } |
                Remove-Item -Recurse -Force
        } else {
            Remove-Item -LiteralPath $InstallDir -Recurse -Force
        }
    } catch {
        Stop-Install 8 "Removing files failed: $($_.Exception.Message)"
    }
    Write-Log "Uninstalled ($what)." "OK"
    exit 0
}

Assert-Administrator
$InstallDir = Assert-InstallDir
if ($Uninstall) { Uninstall-Product } else { Install-Product }
