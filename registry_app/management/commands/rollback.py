from registry_app.management.commands._lifecycle import LifecycleCommand


class Command(LifecycleCommand):
    help = (
        "Re-activate the version that was active before the current one "
        "(its manifest is verified first)."
    )
    verb = "rollback"
    takes_label = False
