"""Running kb as a service that keeps itself current: the refresh cycle (articles from the git
remote, the similar-ticket index, merged contributions), the refresher that runs it inside
`kb serve`, and the node's health. Sits above ``indexer`` and the features it drives."""
