"""Schema migrations: one module per migration, each owning the frozen tables it creates; ``runner`` applies them."""
