"""The user object on the wire, as Podero documents it.

Requests name the country `country_iso2`, responses `country`; `zip_code` may arrive as a
number or a string and is kept as text. Errors are DRF's: 400 with `{"field": ["message"]}`.
"""

from django.utils import timezone
from rest_framework import serializers

from .models import PartnerUser


class UserSerializer(serializers.ModelSerializer):
    country_iso2 = serializers.CharField(
        source="country", write_only=True, required=False, allow_null=True, max_length=3
    )

    class Meta:
        model = PartnerUser
        fields = [
            "id",
            "external_user_id",
            "role",
            "email",
            "first_name",
            "last_name",
            "street_and_number",
            "street_add_info",
            "zip_code",
            "town",
            "country",
            "country_iso2",
            "latitude",
            "longitude",
            "location_last_updated",
        ]
        read_only_fields = ["id", "country", "location_last_updated"]

    def __init__(self, *args, org_id=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.org_id = org_id

    def validate_email(self, email):
        others = PartnerUser.objects.filter(org_id=self.org_id, email__iexact=email)
        if self.instance is not None:
            others = others.exclude(pk=self.instance.pk)
        if others.exists():
            raise serializers.ValidationError("user with this email already exists.")
        return email

    def _located(self, validated_data):
        if "latitude" in validated_data or "longitude" in validated_data:
            validated_data["location_last_updated"] = timezone.now()
        return validated_data

    def create(self, validated_data):
        return PartnerUser.objects.create(org_id=self.org_id, **self._located(validated_data))

    def update(self, instance, validated_data):
        return super().update(instance, self._located(validated_data))
