// The settings menu's desktop-notification switch. Permission is asked only
// here, when the user chooses to, never on load (browsers penalise that).
import { useState } from "react";
import { useI18n } from "../i18n";
import { notificationPermission } from "../notifications";

export function NotificationSettings() {
  const { t } = useI18n();
  const [permission, setPermission] = useState(notificationPermission);
  const ask = async () => {
    try { setPermission(await Notification.requestPermission()); } catch { setPermission(notificationPermission()); }
  };
  return (
    <section aria-label={t.settings} data-testid="settings-menu" className="flex items-center gap-3 border-b border-slate-200 bg-slate-50 px-4 py-2 text-sm">
      <span className="min-w-0 flex-1 font-medium text-slate-700">{t.notifications}</span>
      {permission === "granted" && <span data-testid="notifications-state" data-state="granted" className="text-indigo-700">{t.notificationsOn}</span>}
      {permission === "denied" && <span data-testid="notifications-state" data-state="denied" className="text-slate-500">{t.notificationsBlocked}</span>}
      {permission === "unsupported" && <span data-testid="notifications-state" data-state="unsupported" className="text-slate-500">{t.notificationsUnsupported}</span>}
      {permission === "default" && (
        <button onClick={() => void ask()} data-testid="enable-notifications"
          className="rounded-lg bg-indigo-600 px-3 py-1 text-xs font-semibold text-white hover:bg-indigo-700 focus:outline-none focus-visible:ring-4 focus-visible:ring-indigo-500/40">
          {t.notificationsEnable}
        </button>
      )}
    </section>
  );
}
