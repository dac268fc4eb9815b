"""Incident response: freeze trading, lock the broker key, keep evidence, notify, rebuild.

Entry point for other areas: :func:`garrison.respond.playbook.run_playbook`.
"""
