"""After delivery: proof of delivery, compliance with the instructions, and claims."""
