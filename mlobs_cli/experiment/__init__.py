"""`mlobs experiment`: A/B and canary analysis over the experiment counters and the prediction logs."""
