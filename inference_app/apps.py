from django.apps import AppConfig


class InferenceConfig(AppConfig):
    name = "inference_app"
    default_auto_field = "django.db.models.BigAutoField"
