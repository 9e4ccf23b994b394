"""Personal information (anti-doxxing, 开盒): detectors for ID, phone, card numbers,
addresses and e-mail, the doxxing judgement, and the child's own data in request text."""
