"""Domain entities and their rules, independent of HTTP, SQL and stores."""
