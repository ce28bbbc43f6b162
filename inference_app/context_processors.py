def runtime_status(request):
    return {}
