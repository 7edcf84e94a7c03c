"""Training support (DL4J: ``org.deeplearning4j.optimize``): listeners."""
