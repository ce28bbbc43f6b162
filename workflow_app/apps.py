from django.apps import AppConfig


class WorkflowConfig(AppConfig):
    name = "workflow_app"
    default_auto_field = "django.db.models.BigAutoField"
