# Windows equivalent of scripts/test.sh. ODBC tests need the Access driver (Microsoft Access
# Database Engine) and the SQLite ODBC driver; browser tests need Chromium at $env:CHROMIUM_PATH.
$ErrorActionPreference = "Stop"
Set-Location (Split-Path -Parent $PSScriptRoot)
if (-not (Test-Path .venv\Scripts\python.exe)) { py -3.11 -m venv .venv }
$py = ".venv\Scripts\python.exe"
& $py -m pip install -q -r requirements\dev.txt
# the checks of .pre-commit-config.yaml (its hooks name the Linux venv paths)
& .venv\Scripts\ruff.exe check .
if ($LASTEXITCODE) { exit $LASTEXITCODE }
& .venv\Scripts\ruff.exe format --check .
if ($LASTEXITCODE) { exit $LASTEXITCODE }
& $py manage.py makemigrations --check --dry-run
if ($LASTEXITCODE) { exit $LASTEXITCODE }
& $py -m compileall -q -x "[\\/](\.venv|var|models|static)[\\/]" .
if ($LASTEXITCODE) { exit $LASTEXITCODE }
& .venv\Scripts\pytest.exe @args
exit $LASTEXITCODE
