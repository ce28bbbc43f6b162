# Windows equivalent of scripts/test.sh. ODBC tests need the Access driver (Microsoft Access
# Database Engine) and the SQLite ODBC driver; browser tests need Chromium at $env:CHROMIUM_PATH.
$ErrorActionPreference = "Stop"
Set-Location (Split-Path -Parent $PSScriptRoot)
if (-not (Test-Path .venv\Scripts\python.exe)) { py -3.11 -m venv .venv }
$py = ".venv\Scripts\python.exe"
& $py -m pip install -q -r requirements\dev.txt
& .venv\Scripts\ruff.exe check .
& $py manage.py makemigrations --check --dry-run
& .venv\Scripts\pytest.exe @args
exit $LASTEXITCODE
