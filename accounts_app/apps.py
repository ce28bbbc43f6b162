from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts_app"
    verbose_name = "Accounts and access"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Connect the post_save receiver; register the OpenAPI descriptions of our auth classes.
        from accounts_app import schema, signals  # noqa: F401
