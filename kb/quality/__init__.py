"""Article quality checks: `kb check` (format, strict rules, links), customer data in text
(scrub), and near-duplicate detection."""
