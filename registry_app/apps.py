from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _seed_schedule(sender, **kwargs):
    from registry_app.tasks import seed_schedule

    seed_schedule()


class RegistryConfig(AppConfig):
    name = "registry_app"
    verbose_name = "Model registry"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        post_migrate.connect(_seed_schedule, sender=self, dispatch_uid="registry-seed-schedule")
