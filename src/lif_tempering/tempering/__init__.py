"""Tempering schedules, free and tempered sampling runs, and the units of work of the tempering study.
"""
