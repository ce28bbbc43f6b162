"""The admin console's app configuration: the admin modules are imported when the admin is
first used, not during Django's set-up.

Django's ``AdminConfig`` imports every app's ``admin`` module in ``django.setup()`` (about
0.01 s and 16 modules here). A serving worker answers its first API calls through
``inference_app.fastpath`` without the URL modules or the admin, so that import only delays
its first answer. ``ConsoleAdminConfig`` is Django's documented ``SimpleAdminConfig`` (no
discovery at set-up) with a site that discovers the admin modules, once, at the first of:
its URLs (any URL module that includes ``admin.site.urls``, the product's and the tests'),
its system checks (``manage.py check`` and every command that runs them) and a look at its
registry (``is_registered``, ``get_model_admin``, the app list). The admin pages and checks see
the same registrations as before.
"""

from __future__ import annotations

import threading

from django.contrib.admin import AdminSite
from django.contrib.admin.apps import SimpleAdminConfig


class ConsoleAdminSite(AdminSite):
    """Django's admin site, which imports the apps' ``admin`` modules when first used."""

    _discovery = threading.RLock()
    discovered = False
    _discovering = False  # the admin modules being imported register (and look) meanwhile

    def discover(self) -> None:
        """Import every installed app's ``admin`` module (``admin.autodiscover``), once; another
        thread waits until it is done. An admin module that fails raises here, as Django's
        set-up would have, and is tried again at the next use."""
        if self.discovered:
            return
        with self._discovery:
            if self.discovered or self._discovering:
                return
            from django.contrib.admin import autodiscover

            self._discovering = True
            try:
                autodiscover()
                self.discovered = True
            finally:
                self._discovering = False

    def get_urls(self):
        self.discover()
        return super().get_urls()

    def check(self, app_configs):
        self.discover()
        return super().check(app_configs)

    def is_registered(self, model) -> bool:
        self.discover()
        return super().is_registered(model)

    def get_model_admin(self, model):
        self.discover()
        return super().get_model_admin(model)

    def get_app_list(self, request, app_label=None):
        self.discover()
        return super().get_app_list(request, app_label)


class ConsoleAdminConfig(SimpleAdminConfig):
    """``django.contrib.admin`` whose default site discovers the admin modules when used."""

    default_site = "routing_site.apps.ConsoleAdminSite"

    def ready(self) -> None:
        super().ready()
        # The site is made now (its first read makes it), as AdminConfig's discovery makes it:
        # the admin's check looks only at the sites that exist, ours discovers when checked.
        self.site_name = self.module.site.name
