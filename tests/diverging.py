"""A run that diverges at its first step on any IEEE machine, by construction (not by where one CPU overflows).

A linear SimpleRNN with A_h = ρ·I (init "identity", spectral_radius ρ) has h_t = Σ_s ρ^(t-s)·u_s: with ρ = 1e10,
h_4 of a 6-step sequence already carries 1e40·u_0, and u_0 = A_x·x_0 (Glorot A_x, embeddings of ±0.05) has
entries far above 1e-2·0.05·1e-3, so the state passes float32's 3.4e38 by more than ten orders of magnitude, and the
first minibatch's loss is inf or NaN. The same base with ρ = 0.5 trains normally.
"""
BASE = {"nonlinearity": "linear", "init": "identity"}
RHO = 1e10
TOML = "\n".join(f'{k} = "{v}"' for k, v in BASE.items())
