"""One way for the workflow commands to report a refused input: the detail, then each field."""

from django.core.management.base import CommandError

from routing_site.errors import DomainError


def command_error(exc: DomainError) -> CommandError:
    problems = "\n".join(
        f"  {field}: {message}" for field, messages in exc.fields.items() for message in messages
    )
    return CommandError(f"{exc.detail}\n{problems}" if problems else exc.detail)
