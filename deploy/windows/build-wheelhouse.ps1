<#
.SYNOPSIS
    Build the offline wheelhouse for a Windows install, on a Windows machine with internet access.

.DESCRIPTION
    Collects a wheel for every package of requirements\base.txt (and their dependencies) into
    -Out, then proves the folder installs offline (pip --no-index) in a scratch virtualenv.

    hnswlib publishes no wheels: pip builds its wheel from source here, so this machine needs the
    Microsoft C++ Build Tools (Visual Studio Build Tools, workload "Desktop development with C++":
    MSVC v143 and a Windows SDK). Build with the same Python as the servers: 3.11, 64-bit (the
    wheel is cp311-win_amd64 and does not install on another version or bitness).

    The service wrapper is not on PyPI: download WinSW-x64.exe (WinSW 2.12, from the project's
    GitHub releases page) and pass it with -WinSW, or copy it into the folder by hand; install.ps1
    looks for it there.

    Copy the whole folder (wheels, WinSW-x64.exe, SHA256SUMS.txt) next to the release, as
    <release>\wheelhouse, or anywhere and pass -Wheelhouse to install.ps1.

.PARAMETER Out
    Target folder (default: <release>\wheelhouse).
.PARAMETER Extra
    Extra packages, comma-separated, e.g. "psycopg[binary],redis" for PostgreSQL and the Redis broker.
.PARAMETER WinSW
    Path of a downloaded WinSW-x64.exe to copy into the wheelhouse.
.PARAMETER SkipVerify
    Do not test the offline install in a scratch virtualenv.

.EXAMPLE
    powershell -ExecutionPolicy Bypass -File deploy\windows\build-wheelhouse.ps1 -WinSW $HOME\Downloads\WinSW-x64.exe
#>
[CmdletBinding()]
param(
    [string]$Out = "",
    [string[]]$Extra = @(),
    [string]$WinSW = "",
    [switch]$SkipVerify
)

$ErrorActionPreference = "Stop"
$ReleaseDir = (Resolve-Path (Join-Path $PSScriptRoot "..\..")).Path
$Requirements = Join-Path $ReleaseDir "requirements\base.txt"
if (-not $Out) { $Out = Join-Path $ReleaseDir "wheelhouse" }
New-Item -ItemType Directory -Force -Path $Out | Out-Null
$Out = (Resolve-Path $Out).Path

function Invoke-Checked([string]$Exe, [string[]]$Arguments) {
    Write-Host "> $Exe $($Arguments -join ' ')" -ForegroundColor Gray
    & $Exe @Arguments
    if ($LASTEXITCODE -ne 0) { throw "$Exe exited with code $LASTEXITCODE" }
}

# The servers' interpreter: Python 3.11, 64-bit. (Windows PowerShell turns redirected stderr of a
# native program into errors, fatal under "Stop": relax it for the probe.)
$ErrorActionPreference = "Continue"
$python = (& py.exe -3.11 -c "import sys, struct; assert struct.calcsize('P') == 8; print(sys.executable)" 2>$null)
$probeCode = $LASTEXITCODE
$ErrorActionPreference = "Stop"
if ($probeCode -ne 0 -or -not $python) { throw "Python 3.11 64-bit not found (py -3.11). Install it first." }
$python = "$python".Trim()
Write-Host "Building for $python into $Out"

$extraPackages = @($Extra | ForEach-Object { $_ -split "," } | Where-Object { $_.Trim() } | ForEach-Object { $_.Trim() })

# 'pip wheel' stores the published wheels as they are and builds the sdist-only ones (hnswlib)
# with MSVC; build dependencies (numpy, pybind11, setuptools) are fetched for the build only.
Invoke-Checked $python (@("-m", "pip", "install", "--upgrade", "pip", "wheel"))
Invoke-Checked $python (@("-m", "pip", "wheel", "--wheel-dir", $Out, "-r", $Requirements) + $extraPackages)
if (-not (Get-ChildItem -Path $Out -Filter "hnswlib-*-cp311-*win_amd64.whl")) {
    throw "No hnswlib cp311 win_amd64 wheel was built: install the Microsoft C++ Build Tools and run again."
}
# pip and setuptools too, so the offline install can upgrade the venv's own tools.
Invoke-Checked $python @("-m", "pip", "download", "--only-binary=:all:", "--dest", $Out, "pip", "setuptools")

if ($WinSW) { Copy-Item -LiteralPath $WinSW -Destination (Join-Path $Out "WinSW-x64.exe") -Force }
if (-not (Test-Path (Join-Path $Out "WinSW-x64.exe"))) {
    Write-Warning "WinSW-x64.exe is not in $Out: add it (WinSW 2.12) before taking the wheelhouse to the plant."
}

if (-not $SkipVerify) {
    $scratch = Join-Path ([System.IO.Path]::GetTempPath()) ("wheelhouse-check-" + [guid]::NewGuid().ToString("N"))
    try {
        Invoke-Checked $python @("-m", "venv", $scratch)
        Invoke-Checked (Join-Path $scratch "Scripts\python.exe") (@("-m", "pip", "install", "--no-index",
            "--find-links", $Out, "-r", $Requirements) + $extraPackages)
        Invoke-Checked (Join-Path $scratch "Scripts\python.exe") @("-c", "import hnswlib, numpy, sklearn, django, pyodbc, waitress")
        Write-Host "Offline install from $Out verified." -ForegroundColor Green
    } finally {
        Remove-Item -LiteralPath $scratch -Recurse -Force -ErrorAction SilentlyContinue
    }
}

# Checksums, to check the copy after carrying it to the plant (Get-FileHash).
Get-ChildItem -Path $Out -File | Where-Object { $_.Name -ne "SHA256SUMS.txt" } | Sort-Object Name |
    ForEach-Object { "{0}  {1}" -f (Get-FileHash -Algorithm SHA256 -LiteralPath $_.FullName).Hash.ToLower(), $_.Name } |
    Set-Content -LiteralPath (Join-Path $Out "SHA256SUMS.txt") -Encoding ASCII
$count = @(Get-ChildItem -Path $Out -Filter "*.whl").Count
Write-Host "Wheelhouse ready: $count wheels in $Out (SHA256SUMS.txt written)." -ForegroundColor Green
