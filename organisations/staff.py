"""Creating organisation staff accounts: used by `createorgadmin` and the demo data."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, User
from django.contrib.auth.password_validation import validate_password
from django.db import transaction

from organisations.models import Organisation, OrganisationStaff
from organisations.scoping import ORGANISATION_STAFF_GROUP, sync_groups


@transaction.atomic
def create_organisation_staff(
    organisation: Organisation,
    username: str,
    password: str,
    email: str = "",
    *,
    validate: bool = True,
) -> User:
    """A staff login that sees and edits only `organisation`'s objects.

    Raises ValidationError for a password the validators refuse and ValueError for a
    user name that is taken.
    """
    User = get_user_model()
    if User.objects.filter(username=username).exists():
        raise ValueError(f"A user named {username!r} already exists.")
    user = User(username=username, email=email, is_staff=True)
    if validate:  # the demo's well-known password would not pass, on purpose
        validate_password(password, user)
    user.set_password(password)
    user.save()
    user.groups.add(_staff_group())
    OrganisationStaff.objects.create(user=user, organisation=organisation)
    return user


def _staff_group() -> Group:
    group = Group.objects.filter(name=ORGANISATION_STAFF_GROUP).first()
    if group is None:  # a database migrated before the groups existed
        sync_groups()
        group = Group.objects.get(name=ORGANISATION_STAFF_GROUP)
    return group
