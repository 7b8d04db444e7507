"""The SMS outbox, verification codes and delivery status arrive with the pay-by-SMS issue."""
