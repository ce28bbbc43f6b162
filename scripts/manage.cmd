@echo off
rem manage.py with the project's virtualenv, from any folder: scripts\manage versions --json
rem (no need to activate .venv; scripts\up.ps1 or scripts\test.ps1 create it).
setlocal
set "ROOT=%~dp0.."
if not exist "%ROOT%\.venv\Scripts\python.exe" (
  echo No virtualenv in %ROOT%\.venv: run scripts\up.ps1 first. 1>&2
  exit /b 2
)
pushd "%ROOT%"
"%ROOT%\.venv\Scripts\python.exe" "%ROOT%\manage.py" %*
set "CODE=%ERRORLEVEL%"
popd
exit /b %CODE%
