"""Visits, running bills, charges, payments and collections arrive with the HIS API issue."""
