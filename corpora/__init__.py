"""Dataset adapters for the paper's corpora as distributed (one module per corpus): MLS, VoiceBank-DEMAND,
Libri1Mix, VCTK, LibriTTS. Each validates its root and names the expected sub-folder it lacks."""
