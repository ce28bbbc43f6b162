# Windows equivalent of scripts/up.sh: venv, requirements, database, admin account, sample plant
# data, first trained and active version, then the task cluster and the web server.
#   $env:ROUTING_SAMPLE_ITEMS (default 20000), $env:ROUTING_PORT (default 8000)
$ErrorActionPreference = "Stop"
Set-Location (Split-Path -Parent $PSScriptRoot)
$items = if ($env:ROUTING_SAMPLE_ITEMS) { $env:ROUTING_SAMPLE_ITEMS } else { "20000" }
$port = if ($env:ROUTING_PORT) { $env:ROUTING_PORT } else { "8000" }
if (-not (Test-Path .venv\Scripts\python.exe)) { py -3.11 -m venv .venv }
$py = ".venv\Scripts\python.exe"
$wheelhouse = if (Test-Path wheelhouse) { @("--no-index", "--find-links", "wheelhouse") } else { @() }
& $py -m pip install -q @wheelhouse -r requirements\base.txt
& $py manage.py migrate --noinput -v0
& $py manage.py collectstatic --noinput -v0
& $py manage.py create_admin admin --login-file var\admin-login.txt
if (-not (Test-Path var\plant.sqlite)) {
    & $py manage.py make_sample_data --items $items --seed 1 --out var\plant.sqlite
}
$versions = & $py manage.py versions --json | Out-String
if ($versions -notmatch '"state": "active"') {
    $label = (& $py manage.py train --wait | Select-Object -Last 1).Trim()
    & $py manage.py approve $label --comment "first version, installed by scripts\up.ps1"
    & $py manage.py activate $label --comment "first version, installed by scripts\up.ps1"
}
& $py manage.py preflight --skip-port
New-Item -ItemType Directory -Force logs | Out-Null
$cluster = Start-Process -FilePath $py -ArgumentList "manage.py", "qcluster" -PassThru -NoNewWindow `
    -RedirectStandardOutput logs\qcluster.out -RedirectStandardError logs\qcluster.err
Write-Host "Task cluster started (pid $($cluster.Id))."
Write-Host "Console: http://127.0.0.1:$port/   Admin: http://127.0.0.1:$port/admin/"
try { & $py manage.py serve --port $port } finally { Stop-Process -Id $cluster.Id -ErrorAction SilentlyContinue }
