from registry_app.management.commands._lifecycle import LifecycleCommand


class Command(LifecycleCommand):
    help = "Reject a pending or approved version."
    verb = "reject"
    takes_label = True
