"""The one training loop, batch building, and what forward passes compute."""
