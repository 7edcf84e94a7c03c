"""Neural-network configuration (:mod:`.conf`), weight initialisation (:mod:`.weights`) and the engine."""
