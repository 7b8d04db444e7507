"""Masks for personal data shown to staff and patients. One place, so every screen agrees."""


def mask_identity_number(number: str) -> str:
    """``330183199001011234`` -> ``330183********1234``; short documents keep 1 + 3."""
    if not number:
        return ""
    if len(number) >= 15:
        return number[:6] + "*" * (len(number) - 10) + number[-4:]
    if len(number) <= 4:
        return "*" * len(number)
    return number[0] + "*" * (len(number) - 4) + number[-3:]


def mask_phone(phone: str) -> str:
    """``+8613812345678`` -> ``138****5678`` (the national number, as patients know it)."""
    digits = str(phone or "")
    if digits.startswith("+86"):
        digits = digits[3:]
    if len(digits) < 7:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def sees_identity(user) -> bool:
    """Whether ``user`` may see identity numbers, birth dates and whole phone numbers."""
    return user.has_perm("accounts.view_identity_number")
