from datetime import timedelta

from django.conf import settings
from django.db import migrations, models
from django.db.models import Max, OuterRef, Subquery
from django.utils import timezone


def from_the_access_log(apps, schema_editor):
    """Each phone's last Wrong credentials within the failing window: its status stays what it
    was. Bounded by the window, an index range on created_at."""
    AccessLog = apps.get_model("devices", "AccessLog")
    Device = apps.get_model("devices", "Device")
    since = timezone.now() - timedelta(hours=settings.PHONE_FAILING_WINDOW_HOURS)
    failures = AccessLog.objects.filter(
        created_at__gte=since, outcome="wrong_credentials", device__isnull=False
    )
    last = (
        failures.filter(device=OuterRef("pk"))
        .order_by()
        .values("device")
        .annotate(at=Max("created_at"))
        .values("at")
    )
    Device.objects.filter(pk__in=failures.values("device")).update(last_failure_at=Subquery(last))


class Migration(migrations.Migration):
    dependencies = [
        ("devices", "0018_accesslog_hour"),
    ]

    operations = [
        migrations.AddField(
            model_name="device",
            name="last_failure_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.RunPython(from_the_access_log, migrations.RunPython.noop, elidable=True),
    ]
