"""Identifier checks: what staff (and the CSV import) see for each kind of mistake."""

import pytest
from django.core.exceptions import ValidationError

from tenants import identifiers as ids

VALID_CBE = "0403170701"  # Acme in the personas; a real mod-97 enterprise number


def test_it_normalises_a_belgian_company_number():
    assert ids.validate_company_number("0403.170.701", "BE") == VALID_CBE
    assert ids.validate_company_number("403170701", "BE") == VALID_CBE


def test_it_refuses_a_cbe_with_a_wrong_check_digit():
    with pytest.raises(ValidationError, match="Belgian enterprise number"):
        ids.validate_company_number("0403170702", "BE")


def test_it_checks_dutch_and_luxembourg_register_formats():
    assert ids.validate_company_number("1234 5678", "NL") == "12345678"
    with pytest.raises(ValidationError, match="KvK"):
        ids.validate_company_number("1234567", "NL")
    assert ids.validate_company_number("b 123456", "LU") == "B123456"
    with pytest.raises(ValidationError, match="RCS"):
        ids.validate_company_number("123456", "LU")


def test_it_accepts_other_countries_register_numbers_loosely():
    assert ids.validate_company_number("HRB 12345", None) == "HRB 12345"
    with pytest.raises(ValidationError):
        ids.validate_company_number("!", None)


@pytest.mark.parametrize("vat", ["BE0403170701", "be 0403.170.701", "NL004495445B01", "LU15027442"])
def test_it_accepts_vat_numbers_with_their_prefix(vat):
    assert ids.validate_company_tax_id(vat)[:2] == vat[:2].upper()


def test_it_wants_the_country_prefix_on_a_vat_number():
    with pytest.raises(ValidationError, match="country code"):
        ids.validate_company_tax_id(VALID_CBE)


def test_it_refuses_a_vat_number_with_bad_check_digits():
    with pytest.raises(ValidationError, match="BE"):
        ids.validate_company_tax_id("BE0403170702")


def test_it_normalises_a_0208_peppol_id_and_matches_it_to_the_company_number():
    assert ids.validate_peppol_id("0208:0403.170.701", VALID_CBE) == "0208:0403170701"
    with pytest.raises(ValidationError, match="0208:0417497106"):
        ids.validate_peppol_id("0208:0403170701", "0417497106")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0403170701", "scheme:identifier"),
        ("1234:0403170701", "Unknown Peppol scheme 1234"),
        ("0208:0403170702", "enterprise number"),
        ("0088:5412345000014", "GLN"),
        ("0060:12345", "DUNS"),
    ],
)
def test_it_explains_a_bad_peppol_id(value, message):
    with pytest.raises(ValidationError, match=message):
        ids.validate_peppol_id(value)


def test_it_knows_the_documented_schemes():
    for scheme in ["0208", "9925", "0088", "0184", "9956", "0060", "9999"]:
        assert scheme in ids.SCHEMES
    assert ids.validate_peppol_id("0088:5412345000013") == "0088:5412345000013"
    assert ids.validate_peppol_id("9925:be0403170701") == "9925:BE0403170701"
    assert ids.validate_peppol_id("9999:123456789") == "9999:123456789"


def test_it_suggests_a_name_and_a_peppol_id():
    assert ids.suggest_tenant_name("Customer Company BVBA") == "customer-company-bvba"
    assert ids.suggest_tenant_name("Brasserie Élise & Fils") == "brasserie-elise-fils"
    assert ids.suggest_peppol_id("0403.170.701") == "0208:0403170701"
    assert ids.suggest_peppol_id("0403170702") == ""
    assert ids.suggest_peppol_id("12345678", "NL") == ""


def test_it_warns_a_belgian_company_registered_under_the_vat_scheme():
    data = {"company_number": VALID_CBE, "company_tax_id": "BE0403170701"}
    assert ids.peppol_warnings({**data, "peppol_id": "0208:0403170701"}) == []
    (warning,) = ids.peppol_warnings({**data, "peppol_id": "9925:BE0403170701"})
    assert "0208:0403170701" in warning


def test_check_tenant_fields_returns_errors_by_field():
    errors = ids.check_tenant_fields(
        {
            "name": "Acme BV",
            "company_number": "0403170701",
            "company_tax_id": "0403170701",
            "peppol_id": "0208:0417497106",
        }
    )
    assert set(errors) == {"name", "company_tax_id", "peppol_id"}
    assert "0208:0403170701" in errors["peppol_id"][0]
    bad_number = ids.check_tenant_fields(
        {"name": "acme", "country": "BE", "company_number": "0403170702"}
    )
    assert set(bad_number) == {"company_number"}
    assert all(isinstance(m, str) for msgs in errors.values() for m in msgs)


def test_check_tenant_fields_accepts_a_good_row():
    row = {
        "name": "acme",
        "description": "Acme BV",
        "company_number": "0403.170.701",
        "company_tax_id": "BE0403170701",
        "peppol_id": "0208:0403170701",
    }
    assert ids.check_tenant_fields(row) == {}


def test_it_catches_a_belgian_vat_number_of_another_company():
    errors = ids.check_tenant_fields(
        {"name": "acme", "company_number": VALID_CBE, "company_tax_id": "BE0417497106"}
    )
    assert "BE0403170701" in errors["company_tax_id"][0]


def test_clean_tenant_fields_fills_in_suggestions():
    cleaned, errors = ids.clean_tenant_fields(
        {
            "description": "Acme BV",
            "company_number": "0403.170.701",
            "company_tax_id": "BE0403170701",
        }
    )
    assert errors == {}
    assert cleaned["name"] == "acme-bv"
    assert cleaned["company_number"] == VALID_CBE
    assert cleaned["peppol_id"] == "0208:0403170701"


def test_it_infers_the_country_from_the_vat_number():
    errors = ids.check_tenant_fields(
        {"name": "dutchco", "company_number": "1234567", "company_tax_id": "NL004495445B01"}
    )
    assert "KvK" in errors["company_number"][0]


@pytest.mark.parametrize("number", ["0403.170.702", "0403 170 702", "0403170702"])
def test_a_cbe_shaped_number_alone_is_checked_as_belgian(number):
    # Nothing else on the form says Belgium: the shape of the number does.
    cleaned, errors = ids.clean_tenant_fields({"description": "Acme BV", "company_number": number})
    assert "Belgian enterprise number" in errors["company_number"][0]
    good, no_errors = ids.clean_tenant_fields(
        {"description": "Acme BV", "company_number": "0403.170.701"}
    )
    assert no_errors == {}
    assert (good["company_number"], good["peppol_id"]) == (VALID_CBE, "0208:0403170701")


def test_a_number_of_another_shape_without_a_country_is_checked_loosely():
    assert ids.check_tenant_fields({"name": "acme", "company_number": "HRB 12345"}) == {}


def test_it_takes_names_differing_in_case_and_separators_for_one_name():
    assert ids.name_key("Acme-BV") == ids.name_key("acme.bv") == ids.name_key("acme_bv") == "acmebv"


def test_it_refuses_a_company_number_no_register_can_check():
    """The onboarding form accepted company number "123" with no country and no VAT number."""
    from tenants.identifiers import clean_tenant_fields

    _cleaned, errors = clean_tenant_fields({"description": "Acme", "company_number": "123"})
    assert "company number can be checked" in " ".join(errors["company_number"])
    _cleaned, errors = clean_tenant_fields(
        {"description": "Acme", "company_number": "12345678", "country": "NL"}
    )
    assert "company_number" not in errors


def test_it_fills_the_enterprise_number_and_peppol_id_from_a_belgian_vat_number():
    cleaned, errors = ids.clean_tenant_fields(
        {"description": "Acme BV", "company_tax_id": "BE 0403.170.701"}
    )
    assert errors == {}
    assert (cleaned["company_number"], cleaned["peppol_id"]) == (VALID_CBE, "0208:0403170701")


def test_it_refuses_a_vat_prefix_that_contradicts_the_country():
    errors = ids.check_tenant_fields(
        {"name": "acme", "country": "NL", "company_tax_id": "BE0403170701"}
    )
    assert "from BE but the country is NL" in errors["company_tax_id"][0]
    assert "company_number" not in errors  # nothing filled in from a contradicted number
