import factory
from django.contrib.auth.models import Group

from accounts.demo import demo_resident_id
from accounts.models import Institution, InstitutionKind, Patient, User


class InstitutionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Institution
        django_get_or_create = ["code"]

    code = factory.Sequence(lambda n: f"inst-{n}")
    name = factory.Sequence(lambda n: f"第{n}人民医院")
    kind = InstitutionKind.HOSPITAL


class StaffFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"staff{n}")
    is_staff = True
    institution = factory.SubFactory(InstitutionFactory)
    password = factory.PostGenerationMethodCall("set_password", "pass-for-tests")

    @factory.post_generation
    def role(self, create, extracted, **kwargs):
        if extracted:
            self.groups.add(Group.objects.get(name=extracted))
        if create:
            self.save()


def resident_id(n: int) -> str:
    """A valid resident ID, different for each n (born 1980-1999, sequence from n)."""
    return demo_resident_id(f"{1980 + n % 20}0{1 + n % 9}1{n % 9}", f"{n % 1000:03d}")


class PatientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Patient

    name = factory.Sequence(lambda n: f"患者{n}")
    id_type = "resident_id"
    id_number = factory.Sequence(resident_id)
    citizen_card = factory.Sequence(lambda n: f"CC{n:09d}")
    phone = factory.Sequence(lambda n: f"+86139{n:08d}")
