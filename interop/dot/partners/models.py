"""A user of a partner organisation, with the fields of Podero's documented user object."""

import uuid

from django.db import models


class PartnerUser(models.Model):
    class Role(models.TextChoices):
        USER = "user"
        STAFF = "staff"
        ADMIN = "admin"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Every organisation id in a URL is an organisation: tests pick a fresh one each, so
    # tests sharing one server never see each other's users.
    org_id = models.UUIDField(db_index=True, editable=False)
    email = models.EmailField()
    role = models.CharField(max_length=8, choices=Role.choices)
    external_user_id = models.CharField(max_length=255, null=True, blank=True)
    first_name = models.CharField(max_length=255, null=True, blank=True)
    last_name = models.CharField(max_length=255, null=True, blank=True)
    street_and_number = models.CharField(max_length=255, null=True, blank=True)
    street_add_info = models.CharField(max_length=255, null=True, blank=True)
    # Text, so German postcodes keep their leading zero.
    zip_code = models.CharField(max_length=16, null=True, blank=True)
    town = models.CharField(max_length=255, null=True, blank=True)
    country = models.CharField(max_length=3, null=True, blank=True)
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    location_last_updated = models.DateTimeField(null=True, blank=True, editable=False)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created", "id"]
        constraints = [
            models.UniqueConstraint(fields=["org_id", "email"], name="unique_email_per_org"),
        ]
