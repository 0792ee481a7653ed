"""Creating organisation staff accounts: used by `createorgadmin` and the demo data."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, User
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
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
    user name that is taken or that the admin's forms would refuse, or such an email address.
    """
    User = get_user_model()
    if User.objects.filter(username=username).exists():
        raise ValueError(f"A user named {username!r} already exists.")
    user = User(username=username, email=email, is_staff=True)
    _check_user_fields(user)
    if validate:  # the demo's well-known password would not pass, on purpose
        validate_password(password, user)
    user.set_password(password)
    user.save()
    user.groups.add(_staff_group())
    OrganisationStaff.objects.create(user=user, organisation=organisation)
    return user


FIELD_NAMES = {"username": "User name", "email": "Email address"}


def _check_user_fields(user: User) -> None:
    # A command's arguments pass what the admin's forms check: an empty or overlong name
    # (a database error) or one the admin could not edit would otherwise be saved.
    try:
        user.full_clean(exclude=["password"], validate_unique=False)
    except ValidationError as exc:
        field, errors = next(iter(exc.message_dict.items()))
        name = FIELD_NAMES.get(field, field.capitalize())
        raise ValueError(f"{name} refused: {' '.join(errors)}") from exc


def _staff_group() -> Group:
    group = Group.objects.filter(name=ORGANISATION_STAFF_GROUP).first()
    if group is None:  # a database migrated before the groups existed
        sync_groups()
        group = Group.objects.get(name=ORGANISATION_STAFF_GROUP)
    return group
