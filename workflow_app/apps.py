from django.apps import AppConfig
from django.db.models.signals import post_migrate


def seed_shipped(sender, using="default", **kwargs) -> None:
    """Register ``ROUTING_SOURCE`` as the ``default`` data source, create the shipped profiles
    and the standard blueprint when missing (after migrate).

    ``get_or_create`` by name: an admin's or operator's later edits are kept.
    """
    from django.db import connections

    from workflow_app.blueprints import DEFAULT_NAME, default_graph
    from workflow_app.models import Blueprint, DataSource, MappingProfile, WorkflowConfig

    tables = connections[using].introspection.table_names()
    models = (Blueprint, MappingProfile, DataSource)
    if any(m._meta.db_table not in tables for m in models):
        return  # migrated backwards: nothing to seed into
    DataSource.objects.using(using).seed_default()
    MappingProfile.objects.using(using).seed_shipped()
    if not Blueprint.objects.using(using).filter(name=DEFAULT_NAME).exists():
        graph = default_graph(WorkflowConfig.current_values(), WorkflowConfig.current_profiles())
        Blueprint.create(DEFAULT_NAME, graph, "The shipped pipeline with the default settings.")


class WorkflowConfig(AppConfig):
    name = "workflow_app"
    verbose_name = "Workflow, profiles and blueprints"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        post_migrate.connect(seed_shipped, sender=self, dispatch_uid="workflow_app.seed_shipped")
