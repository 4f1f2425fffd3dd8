"""What a site admin submits to the grid's information systems (GOCDB, CRIC)."""
