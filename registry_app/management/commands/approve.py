from registry_app.management.commands._lifecycle import LifecycleCommand


class Command(LifecycleCommand):
    help = "Approve a pending version (it can then be activated)."
    verb = "approve"
    takes_label = True
