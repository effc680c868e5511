"""rnnlab: see why a recurrent network forgets."""
