"""After the doorstep: proof of delivery, and how a drop compares with what the customer asked."""
