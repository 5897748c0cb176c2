"""The centre's public web site (no login): what it arranges per county, the online order,
a ticket's status by number and phone, company applications and volunteer sign-up.

Pure parts (the abuse guard, the texts, the order form's checks) take data and return
data; the database parts go through the same services every other channel uses."""
