from registry_app.management.commands._lifecycle import LifecycleCommand


class Command(LifecycleCommand):
    help = (
        "Make an approved (or retired) version the single active one, after verifying its manifest."
    )
    verb = "activate"
    takes_label = True
