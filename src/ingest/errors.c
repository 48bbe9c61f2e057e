#include "ingest/errors.h"

#include <string.h>

#include "access/roles.h"

#define T CLASS_TECHNICAL
#define S CLASS_SERVICE

static const struct error_entry entries[] = {
	{ "*", "E011", "warning", T,
	  { "Water tank low", "Kevés a víz a tartályban" },
	  { "Refill the water tank.", "Töltse fel a víztartályt." } },
	{ "*", "E012", "warning", T,
	  { "Drip tray full", "Megtelt a csepptálca" },
	  { "Empty and refit the drip tray.", "Ürítse ki és helyezze vissza a csepptálcát." } },
	{ "*", "E031", "warning", T,
	  { "Bean hopper low", "Kevés a kávébab a tartályban" },
	  { "Refill the bean hopper.", "Töltse fel a babtartályt." } },
	{ "*", "E042", "warning", T,
	  { "Brew unit not in position", "A főzőegység nincs a helyén" },
	  { "Remove, rinse and refit the brew unit; call service if it recurs.",
	    "Vegye ki, öblítse el és helyezze vissza a főzőegységet; ha ismétlődik, hívja a szervizt." } },
	{ "*", "E050", "warning", S,
	  { "Descaling due", "Vízkőtelenítés esedékes" },
	  { "Run the descaling program within the next days.", "A következő napokban futtassa a vízkőtelenítő programot." } },
	{ "*", "E061", "warning", S,
	  { "Water filter exhausted", "A vízszűrő kimerült" },
	  { "Change the water filter.", "Cserélje ki a vízszűrőt." } },
	{ "*", "E073", "warning", T,
	  { "Grinder blocked", "A daráló elakadt" },
	  { "Switch off, clear the grinder of foreign objects, restart; call service if it recurs.",
	    "Kapcsolja ki, távolítsa el az idegen tárgyat a darálóból, indítsa újra; ha ismétlődik, hívja a szervizt." } },
	{ "*", "E105", "warning", T,
	  { "Pump pressure low", "Alacsony a szivattyú nyomása" },
	  { "Check the water supply and filter; call service if it persists.",
	    "Ellenőrizze a vízellátást és a szűrőt; ha nem szűnik meg, hívja a szervizt." } },
	{ "*", "E201", "critical", T,
	  { "Boiler over-temperature: heating stopped", "A kazán túlmelegedett: a fűtés leállt" },
	  { "Out of service. Switch off and call service: the safety thermostat tripped.",
	    "Üzemen kívül. Kapcsolja ki és hívja a szervizt: kioldott a biztonsági termosztát." } },
	{ "*", "E310", "critical", T,
	  { "Flow meter fault: no beverage can be dosed", "Átfolyásmérő-hiba: nem adagolható ital" },
	  { "Out of service. Call service to check the flow meter and its wiring.",
	    "Üzemen kívül. Hívja a szervizt az átfolyásmérő és a bekötése ellenőrzéséhez." } },
	{ "barista-pro", "E401", "critical", T,
	  { "Milk fridge too warm (HACCP)", "A tejhűtő túl meleg (HACCP)" },
	  { "Stop serving milk drinks, discard the milk, check the fridge door and seal; call service.",
	    "Ne adjon ki tejes italt, öntse ki a tejet, ellenőrizze a hűtő ajtaját és tömítését; hívja a szervizt." } },
	{ "barista-pro", "E402", "warning", S,
	  { "Milk system cleaning overdue", "A tejrendszer tisztítása esedékes" },
	  { "Run the milk system cleaning program now.", "Futtassa most a tejrendszer tisztítóprogramját." } },
};

#define COUNT (sizeof(entries) / sizeof(entries[0]))

const char *errors_version(void)
{
	return ERRORS_VERSION;
}

const struct error_entry *errors_find(const char *model, const char *code)
{
	const struct error_entry *any = NULL;
	size_t i;

	for (i = 0; code != NULL && i < COUNT; i++) {
		if (strcmp(entries[i].code, code) != 0)
			continue;
		if (model != NULL && strcmp(entries[i].model, model) == 0)
			return &entries[i];
		if (strcmp(entries[i].model, "*") == 0)
			any = &entries[i];
	}
	return any;
}

const struct error_entry *errors_at(size_t i)
{
	return i < COUNT ? &entries[i] : NULL;
}

enum error_lang errors_lang(const char *tag)
{
	return tag != NULL && strncmp(tag, "hu", 2) == 0 && (tag[2] == '\0' || tag[2] == '-' || tag[2] == '_')
	               ? ERRORS_HU
	               : ERRORS_EN;
}
