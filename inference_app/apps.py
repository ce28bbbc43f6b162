from django.apps import AppConfig


class InferenceConfig(AppConfig):
    name = "inference_app"
    verbose_name = "Inference and saved routings"
    default_auto_field = "django.db.models.BigAutoField"
