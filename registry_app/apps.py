from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "registry_app"
    default_auto_field = "django.db.models.BigAutoField"
