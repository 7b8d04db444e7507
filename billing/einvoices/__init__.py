"""Government-supervised medical e-invoices (财政电子票据): asking the platform, and printing."""
